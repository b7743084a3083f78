#!/usr/bin/env bash
# Tests of scripts/deploy.sh without Azure: its dry runs, with an `az` on PATH
# that fails the test when called, and a run against a stand-in `az` that
# records its arguments. Nothing leaves the machine.
set -euo pipefail
cd "$(dirname "$0")/.."

passed=0 failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pass() { passed=$((passed + 1)); }
fail() {
	failed=$((failed + 1))
	printf 'FAIL %s\n' "$*" >&2
}

# in_order NAME FILE ERE... checks that each ERE matches a line of FILE, each
# on a later line than the one before.
in_order() {
	local name=$1 file=$2
	shift 2
	local missing
	missing=$(awk -v n=$# '
		BEGIN { for (i = 1; i <= n; i++) pat[i] = ARGV[i + 1]; ARGC = 2; k = 1 }
		k <= n && $0 ~ pat[k] { k++ }
		END { if (k <= n) print pat[k] }' "$file" "$@")
	if [[ -z $missing ]]; then
		pass
	else
		fail "$name: no line matching /$missing/ after the ones before it in:"
		sed 's/^/    /' "$file" >&2
	fi
}

# absent NAME FILE ERE checks that no line of FILE matches ERE.
absent() {
	if grep -Eq -- "$3" "$2"; then
		fail "$1: unexpected line matching /$3/:"
		grep -E -- "$3" "$2" | sed 's/^/    /' >&2
	else
		pass
	fi
}

# An az that must never run: dry runs contact nothing. Only the local read
# of the current subscription answers.
mkdir "$tmp/forbidden"
cat >"$tmp/forbidden/az" <<EOF
#!/usr/bin/env bash
if [[ "\$*" == "account show --query [name, id] -o tsv" ]]; then
	printf 'Contoso Dev\n0000aaaa-0000-0000-0000-000000000001\n'
	exit 0
fi
echo "az \$*" >>"$tmp/az-called"
exit 97
EOF
chmod +x "$tmp/forbidden/az"
# The package the dry runs check for, as make package leaves it.
: >"$tmp/handler.zip"

# dry VARIANT ARGS... runs a dry run into $tmp/VARIANT.out.
dry() {
	local variant=$1
	shift
	rm -f "$tmp/az-called"
	if PATH="$tmp/forbidden:$PATH" bash scripts/deploy.sh --name chat-demo --region westeurope --dry-run --zip "$tmp/handler.zip" "$@" \
		>"$tmp/$variant.out" 2>"$tmp/$variant.err"; then
		pass
	else
		fail "dry run $variant exited $?: $(cat "$tmp/$variant.err")"
	fi
	if [[ -e $tmp/az-called ]]; then
		fail "dry run $variant called az: $(cat "$tmp/az-called")"
	else
		pass
	fi
}

if bash -n scripts/deploy.sh; then pass; else fail "bash -n scripts/deploy.sh"; fi

S='AzureSignalRConnectionString__'
OWNER=7e4f1700-ea5a-4f59-8f37-079cfe29dce3
common_head=(
	'^az group create --name chat-demo-rg --location westeurope'
	'\|\| az signalr create -g chat-demo-rg -n chat-demo -l westeurope --sku Standard_S1 .*--service-mode Serverless'
	'^az signalr update -g chat-demo-rg -n chat-demo --disable-local-auth true'
	'^signalr_id=\$\(az signalr show -g chat-demo-rg -n chat-demo --query id -o tsv\)$'
	'\|\| az storage account create -g chat-demo-rg -n chatdemost '
	'\|\| az functionapp create -g chat-demo-rg -n chat-demo --storage-account chatdemost --consumption-plan-location westeurope --runtime custom --os-type Linux --functions-version 4'
)
role="\\|\\| az role assignment create --assignee-object-id \"\\\$principal_id\" --assignee-principal-type ServicePrincipal --role $OWNER --scope \"\\\$signalr_id\""
zip="^az functionapp deployment source config-zip -g chat-demo-rg -n chat-demo --src $tmp/handler.zip"

dry system
in_order "system" "$tmp/system.out" \
	'^# subscription: Contoso Dev 0000aaaa-0000-0000-0000-000000000001, the Azure CLI.s current one' \
	"${common_head[@]}" \
	'^principal_id=\$\(az functionapp identity assign -g chat-demo-rg -n chat-demo --query principalId -o tsv\)$' \
	"$role" \
	"^az functionapp config appsettings set -g chat-demo-rg -n chat-demo --settings ${S}serviceUri=https://chat-demo.service.signalr.net SIGNALR_HUBS=default ${S}credential=managedidentity " \
	"^az functionapp config appsettings delete .*--setting-names ${S}clientId ${S}tenantId ${S}clientSecret" \
	"$zip"
absent "system" "$tmp/system.out" 'az identity create|az ad '

dry user --identity user --hubs chat,news
in_order "user" "$tmp/user.out" "${common_head[@]}" \
	'^az identity create -g chat-demo-rg -n chat-demo-id -l westeurope' \
	'^principal_id=\$\(az identity show -g chat-demo-rg -n chat-demo-id --query principalId -o tsv\)$' \
	'^client_id=\$\(az identity show -g chat-demo-rg -n chat-demo-id --query clientId -o tsv\)$' \
	'^az functionapp identity assign -g chat-demo-rg -n chat-demo --identities "\$identity_id"' \
	"$role" \
	"^az functionapp config appsettings set .*SIGNALR_HUBS=chat,news ${S}credential=managedidentity \"${S}clientId=\\\$client_id\"" \
	"$zip"

dry app --app
in_order "app" "$tmp/app.out" "${common_head[@]}" \
	'^tenant_id=\$\(az account show --query tenantId -o tsv\)$' \
	'\|\| az ad app create --display-name chat-demo-signalr ' \
	'\|\| az ad sp create --id "\$client_id"' \
	'^principal_id=\$\(az ad sp show --id "\$client_id" --query id -o tsv\)$' \
	'^# --append: the existing secrets of chat-demo-signalr are kept' \
	'^client_secret=\$\(az ad app credential reset --id "\$client_id" --append .*--query password -o tsv\)$' \
	"$role" \
	"^az functionapp config appsettings set .*\"${S}tenantId=\\\$tenant_id\" \"${S}clientId=\\\$client_id\" '${S}clientSecret=\\*\\*\\*'" \
	"^az functionapp config appsettings delete .*--setting-names ${S}credential " \
	"$zip"
absent "app" "$tmp/app.out" 'managedidentity|identity assign'

dry vault --app --key-vault kv-demo --sku Free_F1 --plan flex
in_order "vault" "$tmp/vault.out" \
	'\|\| az signalr create .*--sku Free_F1 .*--service-mode Serverless' \
	'\|\| az functionapp create .*--flexconsumption-location westeurope --runtime custom -o none' \
	'^az keyvault secret set --vault-name kv-demo --name chat-demo-signalr-client-secret --file "\$secret_file"' \
	'^app_principal_id=\$\(az functionapp identity assign -g chat-demo-rg -n chat-demo --query principalId' \
	'\|\| az role assignment create --assignee-object-id "\$app_principal_id" .*--role 4633458b-17de-408a-b874-0445c86b69e6 --scope "\$vault_id"' \
	"$role" \
	"'${S}clientSecret=@Microsoft.KeyVault\\(VaultName=kv-demo;SecretName=chat-demo-signalr-client-secret\\)'"
absent "vault" "$tmp/vault.out" '\$client_secret"? -o|--value'

# --upstream: the service's identity, a rule with managed identity auth for
# an app registration, and the settings the handler checks tokens with.
dry upstream --upstream --hubs chat,news
in_order "upstream" "$tmp/upstream.out" "${common_head[@]}" \
	"$role" \
	'^tenant_id=\$\(az account show --query tenantId -o tsv\)$' \
	'\|\| az ad app create --display-name chat-demo-upstream --sign-in-audience AzureADMyOrg -o none$' \
	'^audience=\$\(az ad app list --display-name chat-demo-upstream --query .\[0\]\.appId. -o tsv\)$' \
	'\|\| az ad sp create --id "\$audience" -o none$' \
	"^signalr_principal_id=\\\$\\(az signalr identity assign -g chat-demo-rg -n chat-demo --identity '\\[system\\]' --query identity.principalId -o tsv\\)$" \
	'^app_host=\$\(az functionapp show -g chat-demo-rg -n chat-demo --query defaultHostName -o tsv\)$' \
	"^az signalr upstream update -g chat-demo-rg -n chat-demo --template \"url-template=https://\\\$app_host/api/upstream/\\{hub\\}/\\{category\\}/\\{event\\}\" hub-pattern=chat,news 'category-pattern=\\*' 'event-pattern=\\*' -o none$" \
	'^az resource update --ids "\$signalr_id" --set "properties\.upstream\.templates\[0\]\.auth=\{\\"type\\":\\"ManagedIdentity\\",\\"managedIdentity\\":\{\\"resource\\":\\"\$audience\\"\}\}" -o none$' \
	"^az functionapp config appsettings set .*SIGNALR_HUBS=chat,news ${S}credential=managedidentity \"SIGNALR_UPSTREAM_AUDIENCE=\\\$audience\" \"SIGNALR_UPSTREAM_TENANT=\\\$tenant_id\" \"SIGNALR_UPSTREAM_IDENTITY=\\\$signalr_principal_id\" " \
	"$zip"
# The transcript is a script: the JSON of the rule's auth survives the shell.
auth_line=$(grep '^az resource update' "$tmp/upstream.out")
got=$(audience=11111111-1111-1111-1111-111111111111 signalr_id=id bash -c "set -- ${auth_line#az resource update }; printf '%s\n' \"\$4\"")
want='properties.upstream.templates[0].auth={"type":"ManagedIdentity","managedIdentity":{"resource":"11111111-1111-1111-1111-111111111111"}}'
if [[ $got == "$want" ]]; then pass; else fail "upstream: the --set value reads as $got, want $want"; fi
absent "system" "$tmp/system.out" 'upstream|SIGNALR_UPSTREAM'

# Refused arguments: exit 2 and a message naming the argument.
refused() {
	local want=$1 out
	shift
	if out=$(PATH="$tmp/forbidden:$PATH" bash scripts/deploy.sh "$@" 2>&1); then
		fail "deploy.sh $* succeeded; want a refusal"
	elif [[ $out != *"$want"* ]]; then
		fail "deploy.sh $*: got \"$out\", want it to mention \"$want\""
	else
		pass
	fi
}
refused '--name is required' --region westeurope --dry-run
refused 'invalid --name "Chat_Demo"' --name Chat_Demo --region westeurope --dry-run
refused 'invalid --identity "both"' --name chat-demo --region westeurope --identity both --dry-run
refused 'exclude each other' --name chat-demo --region westeurope --identity user --app --dry-run
refused '--key-vault holds' --name chat-demo --region westeurope --key-vault kv --dry-run
refused 'invalid --sku "Premium_P1"' --name chat-demo --region westeurope --sku Premium_P1 --dry-run
refused 'unknown argument "--yes"' --name chat-demo --region westeurope --yes
refused 'unknown argument "--hub": did you mean --hubs?' --name chat-demo --region westeurope --hub chat --dry-run
refused 'unknown argument "--reigon": did you mean --region?' --name chat-demo --reigon westeurope --dry-run
refused 'unknown argument "--hubs=chat": write --hubs chat, with a space' --name chat-demo --region westeurope --hubs=chat --dry-run
refused 'make package' --name chat-demo --region westeurope --zip "$tmp/missing.zip"
refused 'missing.zip" not found: run make package first' --name chat-demo --region westeurope --zip "$tmp/missing.zip" --dry-run
# Without az the dry run still works, and says where the subscription will come from.
if PATH=/usr/bin:/bin bash scripts/deploy.sh --name chat-demo --region westeurope --dry-run --zip "$tmp/handler.zip" >"$tmp/noaz.out" 2>&1; then
	in_order "dry run without az" "$tmp/noaz.out" '^# subscription: the Azure CLI.s current one at run time; az is not installed'
else
	fail "dry run without az exited $?: $(cat "$tmp/noaz.out")"
fi
if PATH="$tmp/forbidden:$PATH" bash scripts/deploy.sh --help | grep -q -- '--dry-run'; then pass; else fail "--help does not list --dry-run"; fi

# A real run against a stand-in az: existing resources are kept, absent ones
# created, and the client secret reaches az but never the trace.
mkdir "$tmp/standin"
cat >"$tmp/standin/az" <<EOF
#!/usr/bin/env bash
printf '%s\n' "\$*" >>"$tmp/standin.log"
case "\$*" in
"account show --query id -o tsv") echo 00000000-0000-0000-0000-00000000000s ;;
"account show --query tenantId -o tsv") echo 00000000-0000-0000-0000-00000000000t ;;
"signalr show "*) echo /subscriptions/s/resourceGroups/chat-demo-rg/providers/Microsoft.SignalRService/SignalR/chat-demo ;;
"storage account show "* | "functionapp show "*) echo "ERROR: (ResourceNotFound)" >&2; exit 3 ;;
"ad app list "*) echo 11111111-1111-1111-1111-111111111111 ;;
"ad sp show "*) echo 22222222-2222-2222-2222-222222222222 ;;
"ad app credential reset "*) echo 'Sup3r~secret.value' ;;
"role assignment list "*) ;;
"keyvault show "*) echo /subscriptions/s/resourceGroups/kv/providers/Microsoft.KeyVault/vaults/kv-demo ;;
"functionapp identity assign "*) echo 33333333-3333-3333-3333-333333333333 ;;
"keyvault secret set "*)
	while [[ \$1 != --file ]]; do shift; done
	printf 'secret file %s holds %s\n' "\$2" "\$(cat "\$2")" >>"$tmp/standin.log" ;;
esac
EOF
chmod +x "$tmp/standin/az"
: >"$tmp/handler.zip"
if PATH="$tmp/standin:$PATH" bash scripts/deploy.sh --name chat-demo --region westeurope --app --zip "$tmp/handler.zip" \
	>"$tmp/real.out" 2>"$tmp/real.err"; then
	pass
else
	fail "run against the stand-in az exited $?: $(cat "$tmp/real.err")"
fi
absent "real run trace" "$tmp/real.err" 'Sup3r'
absent "real run output" "$tmp/real.out" 'Sup3r'
in_order "real run trace" "$tmp/real.err" \
	'^\+ # subscription: 00000000-0000-0000-0000-00000000000s ' \
	'^\+ az signalr update .*--disable-local-auth true' \
	"^\\+ az functionapp config appsettings set .*'${S}clientSecret=\\*\\*\\*'"
in_order "real run calls" "$tmp/standin.log" \
	'^account show --query id -o tsv$' \
	'^signalr show ' \
	'^signalr update -g chat-demo-rg -n chat-demo --disable-local-auth true' \
	'^storage account create ' \
	'^functionapp create ' \
	'^ad sp show --id 11111111-1111-1111-1111-111111111111 --query id' \
	"^role assignment create --assignee-object-id 22222222-2222-2222-2222-222222222222 --assignee-principal-type ServicePrincipal --role $OWNER --scope /subscriptions/s/resourceGroups/chat-demo-rg/providers/Microsoft.SignalRService/SignalR/chat-demo " \
	"^functionapp config appsettings set .* ${S}tenantId=00000000-0000-0000-0000-00000000000t ${S}clientId=11111111-1111-1111-1111-111111111111 ${S}clientSecret=Sup3r~secret.value " \
	"^functionapp deployment source config-zip .*--src $tmp/handler.zip"
absent "real run calls" "$tmp/standin.log" '^(signalr create|ad app create|ad sp create) '

# With --key-vault the secret goes to the vault through a file that is gone
# afterwards, and the setting holds a reference.
: >"$tmp/standin.log"
if PATH="$tmp/standin:$PATH" bash scripts/deploy.sh --name chat-demo --region westeurope --app --key-vault kv-demo \
	--zip "$tmp/handler.zip" >"$tmp/vault-real.out" 2>"$tmp/vault-real.err"; then
	pass
else
	fail "vault run against the stand-in az exited $?: $(cat "$tmp/vault-real.err")"
fi
in_order "vault run calls" "$tmp/standin.log" \
	'^keyvault show -n kv-demo --query id -o tsv$' \
	'^ad app credential reset ' \
	'^keyvault secret set --vault-name kv-demo --name chat-demo-signalr-client-secret --file ' \
	'^secret file .* holds Sup3r~secret.value$' \
	'^role assignment create --assignee-object-id 33333333-3333-3333-3333-333333333333 .*--role 4633458b-17de-408a-b874-0445c86b69e6 --scope /subscriptions/s/resourceGroups/kv/providers/Microsoft.KeyVault/vaults/kv-demo ' \
	"^functionapp config appsettings set .* ${S}clientSecret=@Microsoft.KeyVault\\(VaultName=kv-demo;SecretName=chat-demo-signalr-client-secret\\) "
secret_file=$(sed -n 's/^secret file \(.*\) holds .*/\1/p' "$tmp/standin.log")
if [[ -n $secret_file && ! -e $secret_file ]]; then pass; else fail "secret file \"$secret_file\" was not removed"; fi
absent "vault run trace" "$tmp/vault-real.err" 'Sup3r'

printf '%d passed, %d failed\n' "$passed" "$failed"
((failed == 0))
