"""Krake's controllers: the reusable runtime and one package per controller."""
