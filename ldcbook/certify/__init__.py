"""Certified-robustness certificates: DPA, FA, ROE and nearest neighbours."""
