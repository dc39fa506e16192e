// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title MetamorphicFactory
/// @notice ANALYSIS FIXTURE: metamorphic-contract factory. Every deployment uses CREATE2 with the
///         same tiny init code, which asks the factory (its CALLER) for an implementation address
///         and returns a copy of that implementation's runtime code. The deployed address therefore
///         depends only on the salt, while the code at that address can differ per deployment:
///         once the child self-destructs, a different implementation can be placed at the same
///         address (pre-Cancun; with EIP-6780 only within the creation transaction).
contract MetamorphicFactory {
    /// Init code, hand-assembled:
    ///   PUSH4 getImplementation() PUSH1 0 MSTORE
    ///   PUSH1 32 PUSH1 0 PUSH1 4 PUSH1 28 CALLER GAS STATICCALL POP      ; impl -> mem[0]
    ///   PUSH1 0 MLOAD DUP1 EXTCODESIZE DUP1 PUSH1 0 DUP1 DUP5 EXTCODECOPY ; copy impl code
    ///   PUSH1 0 RETURN                                                   ; return it
    bytes public constant METAMORPHIC_INIT_CODE =
        hex"63aaf10f42600052602060006004601c335afa50600051803b80600080843c6000f3";

    address public owner;
    address private _implementation;

    event Metamorphosed(address indexed deployed, address indexed implementation, bytes32 salt);

    constructor() {
        owner = msg.sender;
    }

    /// @notice Called back by the init code during CREATE2.
    function getImplementation() external view returns (address) {
        return _implementation;
    }

    function deploy(bytes32 salt, address implementation) external returns (address deployed) {
        require(msg.sender == owner, "not owner");
        _implementation = implementation;
        bytes memory initCode = METAMORPHIC_INIT_CODE;
        assembly {
            deployed := create2(0, add(initCode, 0x20), mload(initCode), salt)
        }
        require(deployed != address(0) && deployed.code.length > 0, "deploy failed");
        delete _implementation;
        emit Metamorphosed(deployed, implementation, salt);
    }

    function predict(bytes32 salt) external view returns (address) {
        bytes32 h = keccak256(
            abi.encodePacked(bytes1(0xff), address(this), salt, keccak256(METAMORPHIC_INIT_CODE))
        );
        return address(uint160(uint256(h)));
    }

    /// @notice Destroy a deployed child so its address can be reused.
    function destroy(address child) external {
        require(msg.sender == owner, "not owner");
        MetamorphicChild(child).destroy();
    }
}

/// @title MetamorphicChild
/// @notice Implementation whose runtime code the factory clones. `factory` is an immutable, so it
///         is embedded in the runtime code and survives the copy.
contract MetamorphicChild {
    address public immutable factory;

    constructor(address factory_) {
        factory = factory_;
    }

    function version() external pure returns (uint256) {
        return 1;
    }

    function destroy() external {
        require(msg.sender == factory, "not factory");
        selfdestruct(payable(msg.sender));
    }
}
