"""host_gui"""
