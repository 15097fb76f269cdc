; Inno Setup script: installs the PyInstaller bundle per user (no administrator rights
; needed, which workshop laptops often lack), with a Start-menu entry and an uninstaller.
; Built by build_windows.ps1, which passes /DAppVersion=...
#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif

[Setup]
AppId={{6F1C2B3A-4D5E-4F60-8A7B-9C0D1E2F3A4B}
AppName=Deep Learning Explorer
AppVersion={#AppVersion}
AppPublisher=Deep Learning Explorer
DefaultDirName={localappdata}\Programs\DeepLearningExplorer
DefaultGroupName=Deep Learning Explorer
PrivilegesRequired=lowest
OutputDir=..\dist
OutputBaseFilename=DeepLearningExplorer-{#AppVersion}-windows-setup
Compression=lzma2/max
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
UninstallDisplayIcon={app}\DeepLearningExplorer.exe
WizardStyle=modern

[Files]
Source: "..\dist\DeepLearningExplorer\*"; DestDir: "{app}"; Flags: recursesubdirs createallsubdirs ignoreversion

[Icons]
Name: "{group}\Deep Learning Explorer"; Filename: "{app}\DeepLearningExplorer.exe"
; the self-test writes its report to a file (no console), then Notepad shows it
Name: "{group}\Deep Learning Explorer self-test"; Filename: "{cmd}"; Parameters: "/c start ""selftest"" /wait ""{app}\DeepLearningExplorer.exe"" --selftest ""%TEMP%\dle-selftest.txt"" & notepad ""%TEMP%\dle-selftest.txt"""
Name: "{userdesktop}\Deep Learning Explorer"; Filename: "{app}\DeepLearningExplorer.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop icon"; Flags: unchecked

[Run]
Filename: "{app}\DeepLearningExplorer.exe"; Description: "Start Deep Learning Explorer"; Flags: nowait postinstall skipifsilent
