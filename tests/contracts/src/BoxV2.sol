// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title BoxV2
/// @notice Second implementation for UpgradeableProxy upgrade tests: same storage layout as
///         BoxV1, plus `increment()`.
contract BoxV2 {
    uint256 internal _value;

    event ValueChanged(uint256 value);

    function store(uint256 newValue) external {
        _value = newValue;
        emit ValueChanged(newValue);
    }

    function retrieve() external view returns (uint256) {
        return _value;
    }

    function increment() external {
        _value += 1;
        emit ValueChanged(_value);
    }

    function version() external pure returns (string memory) {
        return "2";
    }
}
