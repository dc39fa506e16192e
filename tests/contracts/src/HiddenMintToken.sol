// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title HiddenMintToken
/// @notice ANALYSIS FIXTURE (malicious pattern): an owner-only function with an innocuous name,
///         `syncRewards`, silently mints to the owner (raises the owner's balance and totalSupply
///         without emitting a Transfer event).
contract HiddenMintToken {
    string public constant name = "Hidden Mint Token";
    string public constant symbol = "HMT";
    uint8 public constant decimals = 18;
    uint256 public totalSupply;
    address public owner;

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor() {
        owner = msg.sender;
        totalSupply = 1_000_000e18;
        balanceOf[msg.sender] = totalSupply;
        emit Transfer(address(0), msg.sender, totalSupply);
    }

    /// @notice Looks like bookkeeping; is actually an unlimited mint to the owner.
    function syncRewards(uint256 amount) external {
        require(msg.sender == owner, "not owner");
        balanceOf[owner] += amount;
        totalSupply += amount;
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
        require(balanceOf[from] >= amount, "balance");
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}
