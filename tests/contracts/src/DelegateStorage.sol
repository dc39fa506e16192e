// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title DelegateStorage
/// @notice ANALYSIS FIXTURE: DELEGATECALLs to a logic address read from storage (slot 1), which the
///         owner can change at any time. Less severe than a calldata-controlled target, but the
///         owner can swap in arbitrary code.
contract DelegateStorage {
    address public owner;
    address public logic;

    event LogicChanged(address indexed previousLogic, address indexed newLogic);

    constructor(address logic_) {
        owner = msg.sender;
        logic = logic_;
        emit LogicChanged(address(0), logic_);
    }

    function setLogic(address newLogic) external {
        require(msg.sender == owner, "not owner");
        emit LogicChanged(logic, newLogic);
        logic = newLogic;
    }

    function run(bytes calldata data) external payable returns (bytes memory) {
        (bool ok, bytes memory ret) = logic.delegatecall(data);
        require(ok, "delegatecall failed");
        return ret;
    }
}
