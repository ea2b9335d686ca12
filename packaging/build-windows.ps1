# Build Simili's Windows installer from a clean checkout and self-test it:
#   dist\Simili-<version>-x64-setup.exe   (Inno Setup, per-user install, no admin rights)
#
# Steps: build venv with ".[gui]" + PyInstaller -> PyInstaller onedir (packaging\simili.spec) -> self-test it ->
# Inno Setup installer -> silent install into a temp folder -> self-test the installed copy -> silent uninstall.
#
#   pwsh -File packaging\build-windows.ps1 [-Python C:\path\python.exe] [-Flavor cpu|gpu]
#
# -Python: build with that interpreter's environment as is (no venv, never modified; it needs pyinstaller).
# -Flavor gpu: onnxruntime-gpu (CUDA 13 + cuDNN 9 must be on the user's machine; +300 MB); cpu is the default.
# Needs PowerShell 7 (pwsh), Python 3.11 (py launcher or python on PATH) and Inno Setup 6.3+ (choco installs it
# when missing).
param(
    [string]$Python = "",
    [ValidateSet("cpu", "gpu")][string]$Flavor = "cpu"
)
$ErrorActionPreference = "Stop"
Set-Location (Split-Path -Parent $PSScriptRoot)
$Root = (Get-Location).Path
$Build = if ($env:BUILD_DIR) { $env:BUILD_DIR } else { Join-Path $Root "build" }
$Dist = if ($env:DIST_DIR) { $env:DIST_DIR } else { Join-Path $Root "dist" }
New-Item -ItemType Directory -Force -Path $Build, $Dist | Out-Null

function Step($what) { Write-Host "`n== $what" }
function Run {  # run a native command, stop on a non-zero exit status (a simple function: $args keeps "-m" etc.)
    $exe, $rest = $args
    & $exe @rest
    if ($LASTEXITCODE -ne 0) { throw "$exe $($rest -join ' ') failed with exit status $LASTEXITCODE" }
}

# 1. Build environment
if (-not $Python) {
    Step "build venv $Build\venv"
    # The python on PATH first (actions/setup-python's), else the py launcher's 3.11.
    if (Get-Command python -ErrorAction SilentlyContinue) { Run python -m venv --clear "$Build\venv" }
    else { Run py -3.11 -m venv --clear "$Build\venv" }
    $Python = "$Build\venv\Scripts\python.exe"
    Run $Python -m pip install -q --upgrade pip
    # Not editable (-e): editable finders confuse freezing. constraints.txt pins what the tests run against.
    Run $Python -m pip install -q -c constraints.txt ".[gui]" pyinstaller
}
& $Python -m pip show -q onnxruntime-gpu *> $null
$hasGpu = ($LASTEXITCODE -eq 0)
if ($PSBoundParameters.ContainsKey("Python")) {
    # Someone else's environment: never change it; the flavour is whatever ONNX Runtime it has.
    $Flavor = if ($hasGpu) { "gpu" } else { "cpu" }
} elseif ($Flavor -eq "cpu" -and $hasGpu) {
    Step "CPU flavour: onnxruntime-gpu -> onnxruntime"
    $ortVersion = & $Python -c "import importlib.metadata as m; print(m.version('onnxruntime-gpu'))"
    Run $Python -m pip uninstall -q -y onnxruntime-gpu
    Run $Python -m pip install -q "onnxruntime==$ortVersion"
} elseif ($Flavor -eq "gpu" -and -not $hasGpu) {
    Step "GPU flavour: onnxruntime -> onnxruntime-gpu"
    Run $Python -m pip uninstall -q -y onnxruntime
    Run $Python -m pip install -q onnxruntime-gpu
}
$Version = (& $Python -c "import tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['project']['version'])").Trim()
$Suffix = if ($Flavor -eq "gpu") { "-gpu" } else { "" }

# 2. Freeze and self-test (simili-cli.exe is the console launcher; simili.exe is windowed and has no stdout)
Step "PyInstaller onedir"
Run $Python -m PyInstaller --noconfirm --clean --log-level WARN --distpath "$Build\bundle" --workpath "$Build\pyinstaller" packaging\simili.spec
$Bundle = "$Build\bundle\simili"
Step "self-test of the bundle"
Run "$Bundle\simili-cli.exe" --self-test

# 3. Installer
Step "Inno Setup"
$iscc = (Get-Command iscc.exe -ErrorAction SilentlyContinue).Source
if (-not $iscc) { $iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe" }
if (-not (Test-Path $iscc)) {
    Run choco install innosetup -y --no-progress
    $iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe"
}
$defines = @("/DVERSION=$Version", "/DSRCDIR=$Bundle", "/DOUTDIR=$Dist", "/DFLAVOR=$Suffix")
$icon = "$Build\pyinstaller\simili\icons\simili.ico"
if (Test-Path $icon) { $defines += "/DICON=$icon" }
Run $iscc /Q @defines packaging\windows\simili.iss
$Setup = "$Dist\Simili$Suffix-$Version-x64-setup.exe"

# 4. Install silently, self-test the installed app, uninstall
Step "install, self-test and uninstall $Setup"
$target = "$Build\install-test"
if (Test-Path $target) { Remove-Item -Recurse -Force $target }
$p = Start-Process $Setup -ArgumentList "/VERYSILENT", "/SUPPRESSMSGBOXES", "/NORESTART", "/CURRENTUSER", "/DIR=`"$target`"" -Wait -PassThru
if ($p.ExitCode -ne 0) { throw "the installer failed with exit status $($p.ExitCode)" }
Run "$target\simili-cli.exe" --self-test
$p = Start-Process "$target\unins000.exe" -ArgumentList "/VERYSILENT", "/SUPPRESSMSGBOXES", "/NORESTART" -Wait -PassThru
if ($p.ExitCode -ne 0) { throw "the uninstaller failed with exit status $($p.ExitCode)" }
Get-Item $Setup | Format-Table Name, @{ n = "MB"; e = { [math]::Round($_.Length / 1MB, 1) } }
