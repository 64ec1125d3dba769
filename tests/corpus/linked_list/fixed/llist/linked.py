from llist.node import Node


def from_list(values):
    head = None
    for v in reversed(values):
        head = Node(v, head)
    return head


def length(head):
    """Number of nodes in the list starting at head."""
    n = 0
    node = head
    while node is not None:
        n += 1
        node = node.next
    return n


def to_list(head):
    out = []
    while head is not None:
        out.append(head.value)
        head = head.next
    return out
