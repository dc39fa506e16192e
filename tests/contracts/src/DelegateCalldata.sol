// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title DelegateCalldata
/// @notice ANALYSIS FIXTURE (critical pattern): anyone can make this contract DELEGATECALL an
///         arbitrary target taken from calldata, i.e. run arbitrary code against its storage and
///         balance (overwrite `owner`, self-destruct, drain ether).
contract DelegateCalldata {
    address public owner;

    constructor() payable {
        owner = msg.sender;
    }

    receive() external payable {}

    /// @notice No access control.
    function execute(address target, bytes calldata data) external payable returns (bytes memory) {
        (bool ok, bytes memory ret) = target.delegatecall(data);
        require(ok, "delegatecall failed");
        return ret;
    }
}
