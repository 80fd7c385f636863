"""网办进度: a case as its parties and staff read it, with what the domains built on it add."""
