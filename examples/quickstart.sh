#!/usr/bin/env sh
# A tour of gradcli on the examples of the reference documents (examples/seeds.json).
# Run from anywhere after `python3 -m pip install .`; every command here exits 0 except where noted.
set -u

run() {
    printf '\n$ %s\n' "$*"
    "$@"
}

# The chain rule: value and gradient of x**2*sin(x) at 2 (a table on a terminal).
run gradcli grad "x**2*sin(x)" --at x=2

# Baydin et al.'s example, as JSON for scripts.
run gradcli grad "log(x1) + x1*x2 - sin(x2)" --at x1=2,x2=5 --format json

# z does not reach the output: unconnected, None by default ...
run gradcli grad "x + y" --at x=2,y=4,z=8 --wrt z --format json

# ... or 0.0 when asked, as TensorFlow's UnconnectedGradients.ZERO.
run gradcli grad "x + y" --at x=2,y=4,z=8 --wrt z --unconnected zero --format plain

# ... or an error, for CI (exit code 1).
run gradcli grad "x + y" --at x=2,y=4,z=8 --wrt z --unconnected error
echo "exit code: $? (1: the requirement failed)"

# Values only.
run gradcli eval "cos(x**3*exp(x))" --at x=1

# Several points at once, values as constant expressions.
run gradcli grad "sin(x)*cos(y)" --at x=0,y=0 --at x=pi/4,y=pi/3 --format plain

# The expression from standard input.
printf 'x**2*sin(x)\n' | gradcli grad - --at x=2

# Check gradcli's gradient against Ridders' extrapolation (exit 0: pass) ...
run gradcli check "x**2*sin(x)" --at x=2

# ... and a gradient computed elsewhere, to 4 digits only (exit 1: fail).
run gradcli check "x**2*sin(x)" --at x=2 --grad x=1.9726 --format plain
echo "exit code: $? (1: the check failed)"

# A kink: relu at 0 has left derivative 0 and right derivative 1; gradcli's 0 is a valid subgradient.
run gradcli check "relu(x)" --at x=0 --format plain

# Second derivatives: the Hessian of Baydin's example.
run gradcli check "log(x1) + x1*x2 - sin(x2)" --at x1=2,x2=5 --order 2 --format json

# Arrays: the value and gradient of a function of a vector.
run gradcli grad "sum(softmax(v)*log(v))" --at "v=[0.2, 0.3, 0.5]" --format json

# A model spec: the seed network of how-tensorflow-knows-the-derivative.txt. Every gradient is
# exactly zero, and gradcli says why (a softmax over an axis of length 1).
here=$(dirname "$0")
run gradcli grad "$here/mlp.grad"

# The corrected network, checked entry by entry (exit 0: pass).
run gradcli check "$here/mlp_fixed.grad" --format plain

# An input of a spec: the hypergradient of one gradient-descent step by its learning rate.
run gradcli grad "$here/regression.grad" --at lr=0.1 --wrt lr --format plain

# The chain rule node by node: Baydin et al.'s evaluation trace (primal and adjoint), ...
run gradcli grad "log(x1) + x1*x2 - sin(x2)" --at x1=2,x2=5 --trace

# ... forward mode's tangent trace, and the rule of calculus at each node.
run gradcli grad "x**2*sin(x)" --at x=2 --trace --mode forward
run gradcli grad "cos(x**3*exp(x))" --at x=1 --explain

# The derivative as an expression, of the second order in LaTeX, and with repeats named once.
run gradcli diff "x**2*sin(x)"
run gradcli diff "x**2*sin(x)" --order 2 --format latex
run gradcli diff "cos(x**3*exp(x))" --let

# Hessian, Jacobian, Hessian-vector product, all without finite differences.
run gradcli hessian "log(x1) + x1*x2 - sin(x2)" --at x1=2,x2=5
run gradcli jacobian "[x*y, sin(x), x + y]" --at x=1,y=2
run gradcli hvp "x**2*y + y**3" --at x=1,y=2 --v x=1,y=0

# The graph with the local partial on each edge, as Mermaid (renders on GitHub) or DOT.
run gradcli graph "x**2*sin(x)" --at x=2 --format mermaid

# Hand-written derivative rules against their definitions: all pass (exit 0) ...
run gradcli check "$here/rules.grad" --format plain

# ... and subtly wrong ones, as GitHub annotations on their lines (exit 1, kept going).
run gradcli check "$here/broken_rules.grad" --format github
echo "exit code: $? (1: a rule is wrong)"

# The same in Python: functions with a @custom_vjp.
run gradcli check "$here/custom_ops.py" --format plain

# Every function and its derivative rule.
run gradcli functions --format plain

run python3 -m gradcli --version
