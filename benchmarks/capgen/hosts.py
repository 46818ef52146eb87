"""The network a capture shows: one PBX/proxy, a phone fleet and a few SIP trunks."""

from __future__ import annotations

from random import Random

from .sip import Party

PBX_IP = "10.0.0.10"
PBX_AGENT = "Asterisk PBX 18.20.2"
RECORD_ROUTE = f"<sip:{PBX_IP};lr>"
TRUNK_IPS = ("198.51.100.10", "198.51.100.20", "203.0.113.5")
TRUNK_AGENTS = ("Sonus SBC", "Ribbon SBC 9.2", "Oracle ESBC 8.4.0")
PHONE_AGENTS = ("Yealink SIP-T46S 66.86.0.15", "Polycom VVX-VVX_450-UA/6.4.3.5018",
                "Grandstream GXP2170 1.0.11.64", "Cisco/SPA504G-7.6.2c", "Zoiper rv2.10.18.2",
                "Linphone/5.2.5 (belle-sip/5.2.94)", "snom D785/10.1.159.12")
FIRST = ("Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy",
         "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter")
LAST = ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy")


def phone_ip(i: int) -> str:
    return f"10.1.{i // 250}.{i % 250 + 2}"


class Hosts:
    """Deterministic fleet: phone i always has the same address, extension and user agent."""

    def __init__(self, phones: int) -> None:
        self.phones = phones

    def phone(self, i: int, transport: str = "UDP") -> Party:
        agent = PHONE_AGENTS[i % len(PHONE_AGENTS)]
        # one phone in 25 uses compact headers (RFC 3261 §7.3.3) over UDP, where they keep
        # messages under the MTU; over TCP it sends full names (Wireshark 4.0 only reassembles a
        # TCP-split SIP body when it finds a long-form Content-Length)
        compact = i % 25 == 5 and transport == "UDP"
        display = f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST)) % len(LAST)]}"
        return Party(phone_ip(i), 5060, str(2000 + i), display, agent, transport, compact)

    def trunk(self, k: int, number: str, transport: str = "UDP") -> Party:
        k %= len(TRUNK_IPS)
        return Party(TRUNK_IPS[k], 5060, number, "", TRUNK_AGENTS[k], transport)

    @staticmethod
    def pbx(user: str, transport: str = "UDP") -> Party:
        return Party(PBX_IP, 5060, user, "", PBX_AGENT, transport)

    def random_number(self, rng: Random) -> str:
        return f"+331{rng.randint(40000000, 99999999)}"
