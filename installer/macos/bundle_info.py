"""The macOS bundle's Info.plist as a dictionary (PyInstaller's BUNDLE(info_plist=...) takes a
dict and merges it into the plist it writes).

Finder opens a capture with sipscope when the bundle declares the document types
(CFBundleDocumentTypes) by their Uniform Type Identifiers; pcap and pcapng have no system UTI,
so they are imported here (UTImportedTypeDeclarations) with their extensions and MIME types, as
Wireshark declares them.  The file then arrives as a QFileOpenEvent (sipscope/gui/launcher.py).
"""

PCAP_UTI = "com.tcpdump.pcap"
PCAPNG_UTI = "org.wireshark.pcapng"


def _imported_type(uti: str, description: str, extensions: list[str], mime: str) -> dict:
    return {
        "UTTypeIdentifier": uti,
        "UTTypeDescription": description,
        "UTTypeConformsTo": ["public.data"],
        "UTTypeTagSpecification": {"public.filename-extension": extensions,
                                   "public.mime-type": [mime]},
    }


def info_plist(version: str) -> dict:
    return {
        "CFBundleName": "sipscope",
        "CFBundleDisplayName": "sipscope",
        "CFBundleIdentifier": "org.sipscope.sipscope",
        "CFBundleShortVersionString": version,
        "CFBundleVersion": version,
        "CFBundlePackageType": "APPL",
        "NSHighResolutionCapable": True,
        "LSMinimumSystemVersion": "11.0",
        "UTImportedTypeDeclarations": [
            _imported_type(PCAP_UTI, "Packet capture (pcap)", ["pcap", "cap"],
                           "application/vnd.tcpdump.pcap"),
            _imported_type(PCAPNG_UTI, "Packet capture (pcapng)", ["pcapng"],
                           "application/x-pcapng"),
        ],
        "CFBundleDocumentTypes": [
            {"CFBundleTypeName": "Packet capture",
             "CFBundleTypeRole": "Viewer",
             "LSHandlerRank": "Alternate",     # Wireshark, if installed, stays the owner
             "LSItemContentTypes": [PCAP_UTI, PCAPNG_UTI]},
            {"CFBundleTypeName": "SIP text trace",
             "CFBundleTypeRole": "Viewer",
             "LSHandlerRank": "Alternate",
             "LSItemContentTypes": ["public.plain-text", "public.log"]},
        ],
    }
