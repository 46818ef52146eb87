; Inno Setup script: wraps the PyInstaller folder (dist\sipscope) into a Windows installer that
; registers .pcap/.pcapng files with sipscope.  Build: iscc installer\windows\sipscope.iss
#define AppName "sipscope"
#define AppVersion "0.1.0"

[Setup]
AppId={{6B3F3C7E-2C55-4F59-9E0B-5A1D2C1F7E21}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=sipscope
DefaultDirName={autopf}\sipscope
DefaultGroupName=sipscope
OutputBaseFilename=sipscope-{#AppVersion}-setup
Compression=lzma2
SolidCompression=yes
ChangesAssociations=yes
ArchitecturesInstallIn64BitMode=x64compatible
SourceDir=..\..

[Files]
Source: "dist\sipscope\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion

[Icons]
Name: "{group}\sipscope"; Filename: "{app}\sipscope.exe"
Name: "{autodesktop}\sipscope"; Filename: "{app}\sipscope.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop icon"; Flags: unchecked
Name: "associate"; Description: "Open .pcap and .pcapng files with sipscope"

[Registry]
Root: HKA; Subkey: "Software\Classes\sipscope.capture"; ValueType: string; ValueData: "Packet capture (sipscope)"; Flags: uninsdeletekey; Tasks: associate
Root: HKA; Subkey: "Software\Classes\sipscope.capture\shell\open\command"; ValueType: string; ValueData: """{app}\sipscope.exe"" ""%1"""; Tasks: associate
Root: HKA; Subkey: "Software\Classes\.pcap\OpenWithProgids"; ValueType: string; ValueName: "sipscope.capture"; ValueData: ""; Flags: uninsdeletevalue; Tasks: associate
Root: HKA; Subkey: "Software\Classes\.pcapng\OpenWithProgids"; ValueType: string; ValueName: "sipscope.capture"; ValueData: ""; Flags: uninsdeletevalue; Tasks: associate

[Run]
Filename: "{app}\sipscope.exe"; Description: "Start sipscope"; Flags: nowait postinstall skipifsilent
