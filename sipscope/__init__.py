"""sipscope: a SIP trace inspector for VoIP support technicians."""

__version__ = "0.1.0"
