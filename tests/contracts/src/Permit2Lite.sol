// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title Permit2Lite
/// @notice Wallet-scan fixture exposing the same AllowanceTransfer ABI surface (functions,
///         events, errors and EIP-712 types) as Uniswap's Permit2, so scanners written against
///         Permit2 can be exercised on a local chain. Written from the public interface only.
///         Signature-based transfers (SignatureTransfer) are intentionally not included.
contract Permit2Lite {
    struct PackedAllowance {
        uint160 amount;
        uint48 expiration;
        uint48 nonce;
    }

    struct TokenSpenderPair {
        address token;
        address spender;
    }

    struct PermitDetails {
        address token;
        uint160 amount;
        uint48 expiration;
        uint48 nonce;
    }

    struct PermitSingle {
        PermitDetails details;
        address spender;
        uint256 sigDeadline;
    }

    /// owner => token => spender => allowance
    mapping(address => mapping(address => mapping(address => PackedAllowance))) public allowance;

    event Approval(
        address indexed owner, address indexed token, address indexed spender, uint160 amount, uint48 expiration
    );
    event Permit(
        address indexed owner,
        address indexed token,
        address indexed spender,
        uint160 amount,
        uint48 expiration,
        uint48 nonce
    );
    event Lockdown(address indexed owner, address token, address spender);
    event NonceInvalidation(
        address indexed owner, address indexed token, address indexed spender, uint48 newNonce, uint48 oldNonce
    );

    error AllowanceExpired(uint256 deadline);
    error InsufficientAllowance(uint256 amount);
    error ExcessiveInvalidation();
    error InvalidNonce();
    error SignatureExpired(uint256 signatureDeadline);
    error InvalidSignature();
    error InvalidSignatureLength();
    error InvalidSigner();
    error TransferFailed();

    bytes32 public constant PERMIT_DETAILS_TYPEHASH =
        keccak256("PermitDetails(address token,uint160 amount,uint48 expiration,uint48 nonce)");
    bytes32 public constant PERMIT_SINGLE_TYPEHASH = keccak256(
        "PermitSingle(PermitDetails details,address spender,uint256 sigDeadline)PermitDetails(address token,uint160 amount,uint48 expiration,uint48 nonce)"
    );
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,uint256 chainId,address verifyingContract)");

    /// @notice EIP-712 domain separator (name "Permit2", no version, like Permit2).
    function DOMAIN_SEPARATOR() public view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, keccak256("Permit2"), block.chainid, address(this)));
    }

    /// @notice Direct allowance set by the owner. An expiration of 0 means "this block only".
    function approve(address token, address spender, uint160 amount, uint48 expiration) external {
        PackedAllowance storage a = allowance[msg.sender][token][spender];
        a.amount = amount;
        a.expiration = expiration == 0 ? uint48(block.timestamp) : expiration;
        emit Approval(msg.sender, token, spender, amount, expiration);
    }

    /// @notice Signature-based allowance (EIP-712 PermitSingle, 65-byte or 64-byte compact signature,
    ///         or EIP-1271 for contract owners).
    function permit(address owner, PermitSingle calldata permitSingle, bytes calldata signature) external {
        if (block.timestamp > permitSingle.sigDeadline) revert SignatureExpired(permitSingle.sigDeadline);
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", DOMAIN_SEPARATOR(), _hashPermitSingle(permitSingle)));
        _verify(signature, digest, owner);

        PermitDetails calldata d = permitSingle.details;
        PackedAllowance storage a = allowance[owner][d.token][permitSingle.spender];
        if (a.nonce != d.nonce) revert InvalidNonce();
        a.amount = d.amount;
        a.expiration = d.expiration == 0 ? uint48(block.timestamp) : d.expiration;
        unchecked {
            a.nonce = d.nonce + 1;
        }
        emit Permit(owner, d.token, permitSingle.spender, d.amount, d.expiration, d.nonce);
    }

    /// @notice Pull `amount` of `token` from `from` to `to`, spending msg.sender's allowance.
    function transferFrom(address from, address to, uint160 amount, address token) external {
        PackedAllowance storage a = allowance[from][token][msg.sender];
        if (block.timestamp > a.expiration) revert AllowanceExpired(a.expiration);
        uint160 current = a.amount;
        if (current != type(uint160).max) {
            if (amount > current) revert InsufficientAllowance(current);
            unchecked {
                a.amount = current - amount;
            }
        }
        _safeTransferFrom(token, from, to, amount);
    }

    /// @notice Zero the allowance of every (token, spender) pair for msg.sender.
    function lockdown(TokenSpenderPair[] calldata approvals) external {
        for (uint256 i = 0; i < approvals.length; ++i) {
            address token = approvals[i].token;
            address spender = approvals[i].spender;
            allowance[msg.sender][token][spender].amount = 0;
            emit Lockdown(msg.sender, token, spender);
        }
    }

    /// @notice Raise the nonce to invalidate outstanding permits (at most 65535 at once).
    function invalidateNonces(address token, address spender, uint48 newNonce) external {
        PackedAllowance storage a = allowance[msg.sender][token][spender];
        uint48 oldNonce = a.nonce;
        if (newNonce <= oldNonce) revert InvalidNonce();
        unchecked {
            if (newNonce - oldNonce > type(uint16).max) revert ExcessiveInvalidation();
        }
        a.nonce = newNonce;
        emit NonceInvalidation(msg.sender, token, spender, newNonce, oldNonce);
    }

    function _hashPermitSingle(PermitSingle calldata p) private pure returns (bytes32) {
        bytes32 detailsHash = keccak256(
            abi.encode(PERMIT_DETAILS_TYPEHASH, p.details.token, p.details.amount, p.details.expiration, p.details.nonce)
        );
        return keccak256(abi.encode(PERMIT_SINGLE_TYPEHASH, detailsHash, p.spender, p.sigDeadline));
    }

    function _verify(bytes calldata signature, bytes32 digest, address claimedSigner) private view {
        if (claimedSigner.code.length > 0) {
            (bool ok, bytes memory ret) =
                claimedSigner.staticcall(abi.encodeWithSelector(0x1626ba7e, digest, signature));
            if (!ok || ret.length < 32 || abi.decode(ret, (bytes4)) != bytes4(0x1626ba7e)) revert InvalidSigner();
            return;
        }
        bytes32 r;
        bytes32 s;
        uint8 v;
        if (signature.length == 65) {
            r = bytes32(signature[0:32]);
            s = bytes32(signature[32:64]);
            v = uint8(signature[64]);
        } else if (signature.length == 64) {
            r = bytes32(signature[0:32]);
            bytes32 vs = bytes32(signature[32:64]);
            s = vs & bytes32(0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff);
            v = uint8(uint256(vs >> 255)) + 27;
        } else {
            revert InvalidSignatureLength();
        }
        address signer = ecrecover(digest, v, r, s);
        if (signer == address(0)) revert InvalidSignature();
        if (signer != claimedSigner) revert InvalidSigner();
    }

    /// Works with tokens that return `true`, and with tokens that return nothing.
    function _safeTransferFrom(address token, address from, address to, uint256 amount) private {
        if (token.code.length == 0) revert TransferFailed();
        (bool ok, bytes memory ret) = token.call(abi.encodeWithSelector(0x23b872dd, from, to, amount));
        if (!ok || (ret.length != 0 && !abi.decode(ret, (bool)))) revert TransferFailed();
    }
}
