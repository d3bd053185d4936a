#!/usr/bin/env bash
# The long soak (issue: hostile input): OTT's "average load" shape against an in-process server
# with real Redis, for OTT_SOAK_SECONDS (default 600), asserting memory, handles and presence stay
# flat. Not part of CI, which runs the same test for 12 s.
set -euo pipefail
cd "$(dirname "$0")/.."
export OTT_SOAK_SECONDS="${OTT_SOAK_SECONDS:-600}"
dotnet test tests/Ott.Tests/Ott.Tests.csproj --filter "FullyQualifiedName~SoakTests" \
  --logger "console;verbosity=detailed" --blame-hang-timeout "$((OTT_SOAK_SECONDS / 60 + 5))m"
