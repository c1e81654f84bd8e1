"""The tutorial's house table, shared by the house examples, and a helper to print tables."""

import numpy as np

# sq ft, bathrooms, price in $ (the tutorial's 10-row table; its first three rows are the 1-feature example)
TABLE = np.array([
    (2104, 3, 399900), (1600, 3, 329900), (2400, 3, 369000), (1416, 2, 232000), (3000, 4, 539900),
    (1985, 4, 299900), (1534, 3, 314900), (1427, 3, 198999), (1380, 3, 212000), (1494, 3, 242500),
], dtype=np.float64)
SQFT, BATHROOMS, PRICE = 0, 1, 2


def standardize(x):
    """(x - mean) / std per column: gradient descent converges fast on inputs of unit scale."""
    return (x - x.mean(axis=0)) / x.std(axis=0)


def print_table(headers, rows, formats):
    """Print rows under right-aligned headers, each column formatted with its format spec."""
    widths = [max(len(h), 9) for h in headers]
    print("  ".join(f"{h:>{w}}" for h, w in zip(headers, widths)))
    for row in rows:
        print("  ".join(f"{v:>{w}{f}}" for v, w, f in zip(row, widths, formats)))
