"""Exports of a Plan to other tools' formats."""
