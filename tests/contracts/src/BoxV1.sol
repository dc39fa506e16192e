// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title BoxV1
/// @notice Simple implementation contract to sit behind UpgradeableProxy.
contract BoxV1 {
    uint256 internal _value;

    event ValueChanged(uint256 value);

    function store(uint256 newValue) external {
        _value = newValue;
        emit ValueChanged(newValue);
    }

    function retrieve() external view returns (uint256) {
        return _value;
    }

    function version() external pure returns (string memory) {
        return "1";
    }
}
