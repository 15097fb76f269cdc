# Build the Windows installer: a fresh venv, the PyInstaller bundle from packaging/explorer.spec,
# the frozen --selftest, then Inno Setup (iscc.exe on PATH) packs it into an installer.
#   powershell -ExecutionPolicy Bypass -File packaging\windows\build_windows.ps1
# Untested here (written on Linux): see packaging/README.md.
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..\..")
$build = "packaging\build"
if (Test-Path $build) { Remove-Item -Recurse -Force $build }
if (Test-Path "packaging\dist") { Remove-Item -Recurse -Force "packaging\dist" }
py -3 -m venv "$build\venv"
& "$build\venv\Scripts\python.exe" -m pip install -q --upgrade pip
& "$build\venv\Scripts\python.exe" -m pip install -q . "pyinstaller>=6.10,<7"
$start = Get-Date
& "$build\venv\Scripts\pyinstaller.exe" --noconfirm --log-level WARN --distpath packaging\dist `
    --workpath "$build\work" packaging\explorer.spec
if ($LASTEXITCODE -ne 0) { throw "PyInstaller failed" }
$version = & "$build\venv\Scripts\python.exe" -c "import app; print(app.__version__)"
& "$build\venv\Scripts\python.exe" packaging\third_party_licences.py `
    packaging\dist\DeepLearningExplorer\THIRD-PARTY-LICENSES.txt
Write-Host ("build: {0:N0} s" -f ((Get-Date) - $start).TotalSeconds)
# The windowed app has no console: its report goes to a file, and PowerShell must wait
# for a GUI-subsystem program explicitly.
$test = Start-Process -FilePath "packaging\dist\DeepLearningExplorer\DeepLearningExplorer.exe" `
    -ArgumentList "--selftest", "selftest.txt" -Wait -PassThru
Get-Content selftest.txt
if ($test.ExitCode -ne 0) { throw "the frozen self-test failed" }
iscc.exe "/DAppVersion=$version" packaging\windows\installer.iss
if ($LASTEXITCODE -ne 0) { throw "Inno Setup failed" }
Get-ChildItem packaging\dist\*.exe | ForEach-Object { "{0}: {1:N0} MB" -f $_.Name, ($_.Length / 1MB) }
