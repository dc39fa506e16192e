// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title SelfDestructible
/// @notice ANALYSIS FIXTURE: the owner can call `destroy()`, which executes SELFDESTRUCT and sends
///         the contract's ether to the owner. (Since Cancun/EIP-6780 the code is only removed when
///         this happens in the creation transaction, but the opcode is still a red flag.)
contract SelfDestructible {
    address public owner;

    constructor() payable {
        owner = msg.sender;
    }

    receive() external payable {}

    function destroy() external {
        require(msg.sender == owner, "not owner");
        selfdestruct(payable(owner));
    }
}
