"""No test here: pytest exits 5 (no tests collected)."""
