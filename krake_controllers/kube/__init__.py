"""Talking to member clusters: connections from a Cluster's kubeconfig (connection.py)."""
