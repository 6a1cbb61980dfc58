# Helpers shared by the pure tests (builtins only).
rec {
  # Literal substring search. builtins.split takes a POSIX regex, so every special character
  # is put in a bracket expression (backslash escapes like `\]` are rejected by Nix's regex).
  escapeRegex = builtins.replaceStrings
    [ "." "+" "*" "?" "(" ")" "[" "]" "{" "}" "|" "$" "^" "\\" ]
    [ "[.]" "[+]" "[*]" "[?]" "[(]" "[)]" "[[]" "[]]" "[{]" "[}]" "[|]" "[$]" "\\^" "[\\]" ];
  contains = needle: hay: builtins.length (builtins.split (escapeRegex needle) hay) > 1;
  missingFrom = hay: needles: builtins.filter (n: !(contains n hay)) needles;
  lines = text: builtins.filter (l: builtins.isString l && l != "") (builtins.split "\n" text);

  check = name: ok: why: if ok then "ok ${name}" else "FAIL ${name}: ${why}";
  eq = name: expected: actual:
    check name (expected == actual) "expected ${builtins.toJSON expected}, got ${builtins.toJSON actual}";
  noneMissing = name: missing: check name (missing == [ ]) "not found: ${builtins.toJSON missing}";
}
