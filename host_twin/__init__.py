"""host_twin"""
