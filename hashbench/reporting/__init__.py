"""Records to tables (CSV, Markdown, LaTeX) and figures; the DMRH paper's own numbers."""
