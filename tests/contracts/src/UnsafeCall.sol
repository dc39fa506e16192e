// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title UnsafeCall
/// @notice ANALYSIS FIXTURE (vulnerable patterns):
///         - `withdrawTo` and `ping` ignore the success flag of a low-level CALL, so a failed
///           payout is silently treated as done;
///         - `withdrawTo` and `sweep` send ether to a caller-supplied address, and `sweep` has no
///           access control at all (anyone can drain the contract).
contract UnsafeCall {
    mapping(address => uint256) public deposits;

    event Deposited(address indexed account, uint256 amount);

    function deposit() external payable {
        deposits[msg.sender] += msg.value;
        emit Deposited(msg.sender, msg.value);
    }

    /// @notice Unchecked call: the balance is debited even if the transfer fails.
    function withdrawTo(address payable recipient, uint256 amount) external {
        require(deposits[msg.sender] >= amount, "insufficient deposit");
        deposits[msg.sender] -= amount;
        recipient.call{value: amount}("");
    }

    /// @notice Unchecked arbitrary call.
    function ping(address target, bytes calldata data) external {
        target.call(data);
    }

    /// @notice Arbitrary ether destination, no authorisation.
    function sweep(address payable to) external {
        (bool ok,) = to.call{value: address(this).balance}("");
        require(ok, "sweep failed");
    }
}
