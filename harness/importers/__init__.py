"""Importers: evidence recorded elsewhere (a real platform's exports) read into the same
evidence model, figures and gap matrix as a run."""
