"""Kuaichu (快处): video handling of minor traffic accidents."""
