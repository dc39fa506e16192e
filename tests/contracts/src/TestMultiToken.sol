// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IERC1155Receiver {
    function onERC1155Received(address operator, address from, uint256 id, uint256 value, bytes calldata data)
        external
        returns (bytes4);
}

/// @title TestMultiToken
/// @notice Minimal ERC-1155 wallet-scan fixture (operator approvals, single transfers).
///         `mint` is public for test setup.
contract TestMultiToken {
    mapping(uint256 => mapping(address => uint256)) internal _balances;
    mapping(address => mapping(address => bool)) internal _operatorApprovals;

    event TransferSingle(
        address indexed operator, address indexed from, address indexed to, uint256 id, uint256 value
    );
    event TransferBatch(
        address indexed operator, address indexed from, address indexed to, uint256[] ids, uint256[] values
    );
    event ApprovalForAll(address indexed account, address indexed operator, bool approved);
    event URI(string value, uint256 indexed id);

    function supportsInterface(bytes4 interfaceId) external pure returns (bool) {
        return interfaceId == 0x01ffc9a7 // ERC-165
            || interfaceId == 0xd9b67a26; // ERC-1155
    }

    function uri(uint256) external pure returns (string memory) {
        return "";
    }

    function balanceOf(address account, uint256 id) external view returns (uint256) {
        return _balances[id][account];
    }

    function balanceOfBatch(address[] calldata accounts, uint256[] calldata ids)
        external
        view
        returns (uint256[] memory out)
    {
        require(accounts.length == ids.length, "TestMultiToken: length mismatch");
        out = new uint256[](accounts.length);
        for (uint256 i = 0; i < accounts.length; ++i) {
            out[i] = _balances[ids[i]][accounts[i]];
        }
    }

    function isApprovedForAll(address account, address operator) public view returns (bool) {
        return _operatorApprovals[account][operator];
    }

    function setApprovalForAll(address operator, bool approved) external {
        require(operator != msg.sender, "TestMultiToken: approve to caller");
        _operatorApprovals[msg.sender][operator] = approved;
        emit ApprovalForAll(msg.sender, operator, approved);
    }

    function safeTransferFrom(address from, address to, uint256 id, uint256 value, bytes calldata data) external {
        require(from == msg.sender || isApprovedForAll(from, msg.sender), "TestMultiToken: not authorised");
        require(to != address(0), "TestMultiToken: transfer to zero");
        uint256 bal = _balances[id][from];
        require(bal >= value, "TestMultiToken: insufficient balance");
        unchecked {
            _balances[id][from] = bal - value;
        }
        _balances[id][to] += value;
        emit TransferSingle(msg.sender, from, to, id, value);
        if (to.code.length > 0) {
            bytes4 ret = IERC1155Receiver(to).onERC1155Received(msg.sender, from, id, value, data);
            require(ret == IERC1155Receiver.onERC1155Received.selector, "TestMultiToken: unsafe recipient");
        }
    }

    /// @notice Test-setup helper: anyone may mint.
    function mint(address to, uint256 id, uint256 value) external {
        require(to != address(0), "TestMultiToken: mint to zero");
        _balances[id][to] += value;
        emit TransferSingle(msg.sender, address(0), to, id, value);
    }
}
