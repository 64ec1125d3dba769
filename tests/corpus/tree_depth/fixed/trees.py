class Tree:
    def __init__(self, value, left=None, right=None):
        self.value = value
        self.left = left
        self.right = right


def depth(node):
    """Height of a binary tree; an empty tree has depth 0."""
    if node is None:
        return 0
    return 1 + max(depth(node.left), depth(node.right))


def size(node):
    if node is None:
        return 0
    return 1 + size(node.left) + size(node.right)
