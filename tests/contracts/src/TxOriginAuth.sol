// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title TxOriginAuth
/// @notice ANALYSIS FIXTURE (vulnerable pattern): `withdraw` authorises with `tx.origin`, so any
///         contract the owner interacts with can call it on the owner's behalf (phishing).
contract TxOriginAuth {
    address public owner;

    constructor() payable {
        owner = msg.sender;
    }

    receive() external payable {}

    function withdraw(address payable to, uint256 amount) external {
        require(tx.origin == owner, "not owner");
        (bool ok,) = to.call{value: amount}("");
        require(ok, "send failed");
    }
}
