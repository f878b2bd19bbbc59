"""Statutory returns: the SSDA903 return's DfE validation over the dbt marts."""
