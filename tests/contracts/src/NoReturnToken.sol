// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title NoReturnToken
/// @notice Non-standard ERC-20 fixture modelled on two well-known quirks:
///         - USDT-style: `transfer`, `transferFrom` and `approve` return no data, and `approve`
///           from a non-zero allowance to another non-zero allowance reverts (reset to 0 first).
///         - MKR-style: `name()` and `symbol()` return `bytes32` instead of `string`.
///         `mint` is public for test setup.
contract NoReturnToken {
    bytes32 public constant name = "No Return Token";
    bytes32 public constant symbol = "NRT";
    uint8 public constant decimals = 6;
    uint256 public totalSupply;

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    function transfer(address to, uint256 amount) external {
        _transfer(msg.sender, to, amount);
    }

    function transferFrom(address from, address to, uint256 amount) external {
        uint256 current = allowance[from][msg.sender];
        if (current != type(uint256).max) {
            require(current >= amount, "NRT: insufficient allowance");
            unchecked {
                allowance[from][msg.sender] = current - amount;
            }
        }
        _transfer(from, to, amount);
    }

    function approve(address spender, uint256 amount) external {
        // USDT quirk: changing a non-zero allowance requires resetting it to zero first.
        require(amount == 0 || allowance[msg.sender][spender] == 0, "NRT: reset allowance first");
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
    }

    /// @notice Test-setup helper: anyone may mint.
    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        unchecked {
            balanceOf[to] += amount;
        }
        emit Transfer(address(0), to, amount);
    }

    function _transfer(address from, address to, uint256 amount) internal {
        uint256 bal = balanceOf[from];
        require(bal >= amount, "NRT: insufficient balance");
        unchecked {
            balanceOf[from] = bal - amount;
            balanceOf[to] += amount;
        }
        emit Transfer(from, to, amount);
    }
}
