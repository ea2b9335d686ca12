; Inno Setup 6.3+ script for Simili's Windows installer (per-user by default, no admin rights needed).
; Built by packaging/build-windows.ps1:
;   ISCC /DVERSION=0.1.0 /DSRCDIR=<repo>\build\bundle\simili /DOUTDIR=<repo>\dist [/DICON=...\simili.ico] simili.iss
; Silent install for tests: Simili-<ver>-x64-setup.exe /VERYSILENT /SUPPRESSMSGBOXES /CURRENTUSER /DIR=C:\somewhere
; The library (catalog, models, training add-on) lives in %LOCALAPPDATA%\Simili and is kept on uninstall.

#ifndef VERSION
  #define VERSION "0.0.0"
#endif
#ifndef SRCDIR
  #define SRCDIR "..\..\build\bundle\simili"
#endif
#ifndef OUTDIR
  #define OUTDIR "..\..\dist"
#endif
#ifndef FLAVOR
  #define FLAVOR ""
#endif

[Setup]
AppId={{6B2E8F4C-3D1A-4E7B-9C5F-2A8D1E6B4F30}
AppName=Simili
AppVersion={#VERSION}
AppVerName=Simili {#VERSION}
AppPublisher=The Simili developers
AppComments=Find visually similar photos on your own computer
DefaultDirName={autopf}\Simili
DefaultGroupName=Simili
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog commandline
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir={#OUTDIR}
OutputBaseFilename=Simili{#FLAVOR}-{#VERSION}-x64-setup
#ifdef ICON
SetupIconFile={#ICON}
#endif
UninstallDisplayIcon={app}\simili.exe
UninstallDisplayName=Simili {#VERSION}
Compression=lzma2/max
SolidCompression=yes
LZMANumBlockThreads=4
WizardStyle=modern
CloseApplications=yes
ChangesAssociations=no

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#SRCDIR}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; A previous version's bundle must not leave stale modules behind.
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{autoprograms}\Simili"; Filename: "{app}\simili.exe"; Comment: "Find visually similar photos"
Name: "{autodesktop}\Simili"; Filename: "{app}\simili.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\simili.exe"; Description: "{cm:LaunchProgram,Simili}"; Flags: nowait postinstall skipifsilent
