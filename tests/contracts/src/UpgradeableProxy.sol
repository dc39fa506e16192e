// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title UpgradeableProxy
/// @notice ANALYSIS FIXTURE: transparent-style EIP-1967 proxy. The implementation address lives in
///         slot keccak256("eip1967.proxy.implementation") - 1 and the admin in
///         keccak256("eip1967.proxy.admin") - 1. Calls from the admin reach the admin functions;
///         every other call is delegated to the implementation.
contract UpgradeableProxy {
    bytes32 internal constant IMPLEMENTATION_SLOT =
        0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc;
    bytes32 internal constant ADMIN_SLOT = 0xb53127684a568b3173ae13b9f8a6016e243e63b6e8ee1178d6a717850b5d6103;

    event Upgraded(address indexed implementation);
    event AdminChanged(address previousAdmin, address newAdmin);

    constructor(address implementation_, address admin_, bytes memory initData) payable {
        _setImplementation(implementation_);
        _setAdmin(admin_);
        emit AdminChanged(address(0), admin_);
        if (initData.length > 0) {
            (bool ok,) = implementation_.delegatecall(initData);
            require(ok, "init failed");
        }
    }

    modifier ifAdmin() {
        if (msg.sender == _admin()) {
            _;
        } else {
            _delegate(_implementation());
        }
    }

    function upgradeTo(address newImplementation) external ifAdmin {
        _setImplementation(newImplementation);
    }

    function changeAdmin(address newAdmin) external ifAdmin {
        require(newAdmin != address(0), "zero admin");
        emit AdminChanged(_admin(), newAdmin);
        _setAdmin(newAdmin);
    }

    function implementation() external ifAdmin returns (address) {
        return _implementation();
    }

    function admin() external ifAdmin returns (address) {
        return _admin();
    }

    fallback() external payable {
        _delegate(_implementation());
    }

    receive() external payable {
        _delegate(_implementation());
    }

    function _implementation() internal view returns (address impl) {
        bytes32 slot = IMPLEMENTATION_SLOT;
        assembly {
            impl := sload(slot)
        }
    }

    function _admin() internal view returns (address adm) {
        bytes32 slot = ADMIN_SLOT;
        assembly {
            adm := sload(slot)
        }
    }

    function _setImplementation(address newImplementation) private {
        require(newImplementation.code.length > 0, "not a contract");
        bytes32 slot = IMPLEMENTATION_SLOT;
        assembly {
            sstore(slot, newImplementation)
        }
        emit Upgraded(newImplementation);
    }

    function _setAdmin(address newAdmin) private {
        bytes32 slot = ADMIN_SLOT;
        assembly {
            sstore(slot, newAdmin)
        }
    }

    function _delegate(address impl) private {
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), impl, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            switch ok
            case 0 { revert(0, returndatasize()) }
            default { return(0, returndatasize()) }
        }
    }
}
