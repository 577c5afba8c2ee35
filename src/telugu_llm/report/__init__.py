"""Stage 6, report: one self-contained HTML file, one module per section, and the figures."""
