; Inno Setup script: wraps the PyInstaller folder (dist\sipscope) into a Windows installer.
; Build with installer\build.py (it passes the version), or by hand from the repository root:
;     iscc /DAppVersion=0.1.0 installer\windows\sipscope.iss
; It installs the app, adds a Start-menu entry, registers .pcap, .pcapng and .cap with the
; ProgID sipscope.capture ("Open with" always; the default application only when the user keeps
; the task ticked), and adds sipscope to "Open with" for .gz files (a .pcap.gz is a .gz to
; Windows: sipscope never takes over every .gz file).  Uninstall removes all of it.
#define AppName "sipscope"
#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define ProgId "sipscope.capture"

[Setup]
AppId={{6B3F3C7E-2C55-4F59-9E0B-5A1D2C1F7E21}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=sipscope
DefaultDirName={autopf}\sipscope
DefaultGroupName=sipscope
UninstallDisplayIcon={app}\sipscope.exe
OutputBaseFilename=sipscope-{#AppVersion}-setup
OutputDir=dist
Compression=lzma2
SolidCompression=yes
ChangesAssociations=yes
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
SourceDir=..\..

[Files]
Source: "dist\sipscope\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion

[Icons]
Name: "{group}\sipscope"; Filename: "{app}\sipscope.exe"
Name: "{group}\Uninstall sipscope"; Filename: "{uninstallexe}"
Name: "{autodesktop}\sipscope"; Filename: "{app}\sipscope.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop icon"; Flags: unchecked
Name: "makedefault"; Description: "Open .pcap, .pcapng and .cap files with sipscope by default (it is always offered under ""Open with"")"

[Registry]
; The ProgID: what "open" does with a capture.
Root: HKA; Subkey: "Software\Classes\{#ProgId}"; ValueType: string; ValueData: "Packet capture (sipscope)"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\{#ProgId}\DefaultIcon"; ValueType: string; ValueData: "{app}\sipscope.exe,0"
Root: HKA; Subkey: "Software\Classes\{#ProgId}\shell\open\command"; ValueType: string; ValueData: """{app}\sipscope.exe"" ""%1"""
; "Open with" for every capture extension, and for .gz (a .pcap.gz).
Root: HKA; Subkey: "Software\Classes\.pcap\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.pcapng\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.cap\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.gz\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
; The application's own entry ("Open with" lists it with its supported types).
Root: HKA; Subkey: "Software\Classes\Applications\sipscope.exe"; ValueType: string; ValueName: "FriendlyAppName"; ValueData: "sipscope"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Applications\sipscope.exe\SupportedTypes"; ValueType: string; ValueName: ".pcap"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\sipscope.exe\SupportedTypes"; ValueType: string; ValueName: ".pcapng"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\sipscope.exe\SupportedTypes"; ValueType: string; ValueName: ".cap"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\sipscope.exe\SupportedTypes"; ValueType: string; ValueName: ".gz"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\sipscope.exe\shell\open\command"; ValueType: string; ValueData: """{app}\sipscope.exe"" ""%1"""
; The default application, when the user agreed (the task).  Windows 10/11 may still ask once
; ("How do you want to open this file?"): a program cannot set a user's choice silently there.
Root: HKA; Subkey: "Software\Classes\.pcap"; ValueType: string; ValueName: ""; ValueData: "{#ProgId}"; Flags: uninsdeletevalue; Tasks: makedefault
Root: HKA; Subkey: "Software\Classes\.pcapng"; ValueType: string; ValueName: ""; ValueData: "{#ProgId}"; Flags: uninsdeletevalue; Tasks: makedefault
Root: HKA; Subkey: "Software\Classes\.cap"; ValueType: string; ValueName: ""; ValueData: "{#ProgId}"; Flags: uninsdeletevalue; Tasks: makedefault

[Run]
Filename: "{app}\sipscope.exe"; Description: "Start sipscope"; Flags: nowait postinstall skipifsilent
