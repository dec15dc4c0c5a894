# Shared by the bench start scripts (sourced): writes DIR/aup.txt and DIR/steward.yaml with a
# district that blocks every entry of LIST (names with their subdomains, and the addresses it
# lists) for every client on 127.0.0.0/8. The caller appends its service's section.
# Usage: write_bench_config DIR LIST
write_bench_config() {
  local dir=$1 list=$2
  mkdir -p "$dir"
  cat > "$dir/aup.txt" <<'TXT'
The district blocks the sites on its block list.
TXT
  cat > "$dir/steward.yaml" <<YAML
district: {name: Benchmark District, timezone: UTC}
data-dir: $dir/data
documents: [{id: aup, title: Benchmark AUP, file: aup.txt}]
lists:
  - {name: blocked, path: "$list", format: domains}
groups: [{id: everyone}]
zones: [{id: loopback, networks: [127.0.0.0/8], default-group: everyone}]
policies:
  - rules:
      - id: block-listed
        action: block
        match: {categories: [blocked]}
        clause: {document: aup, section: Lists, text: The district blocks the sites on its block list.}
YAML
}
