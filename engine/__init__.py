"""Hilfenetz engine: deploys and runs the network's BPMN processes.

Never imports Flask, Werkzeug or the webapp (enforced by import-linter).
"""
