#!/usr/bin/env bash
# deploy.sh creates, with the Azure CLI, everything the handler needs in one
# region and deploys handler.zip: a resource group, a SignalR resource in
# Serverless mode with local (access key) auth disabled, a storage account, a
# Linux Function App with an identity that holds SignalR Service Owner on the
# SignalR resource, and the app settings that point the handler at it.
# Re-running it converges on the same state. See docs/DEPLOY.md.
set -euo pipefail

usage() {
	cat <<'EOF'
usage: scripts/deploy.sh --name NAME --region REGION [options]

Creates (or brings up to date) in REGION:
  resource group     NAME-rg          (--resource-group)
  SignalR Service    NAME             Serverless, local auth disabled
  storage account    NAME minus dashes + "st", up to 24 chars (--storage)
  Function App       NAME             Linux, custom handler (--function-app)
  an identity holding "SignalR Service Owner" on the SignalR resource,
  the app settings, and deploys the zip built by `make package`.

options:
  --name NAME            SignalR resource name, also the default for the rest
                         (3-60 characters: lowercase letters, digits, dashes)
  --region REGION        Azure region, such as westeurope
  --resource-group RG    defaults to NAME-rg
  --function-app APP     defaults to NAME
  --storage ACCOUNT      defaults to NAME without dashes + "st"
  --sku SKU              Standard_S1 (default) or Free_F1
  --plan PLAN            consumption (default, Linux Consumption) or flex
  --hubs HUBS            SIGNALR_HUBS, comma-separated (default: default)
  --identity KIND        system (default): the app's system-assigned identity
                         user: a user-assigned identity NAME-id
  --app                  an Entra application (app registration + client
                         secret) instead of a managed identity
  --key-vault VAULT      with --app: keep the secret in this existing Key Vault
                         (RBAC permission model) and reference it from the
                         app setting, rather than storing it in the setting
  --upstream             send client invocations and connection events to the
                         upstream function: the SignalR resource's own
                         identity signs each request with a token for an app
                         registration NAME-upstream, which the handler checks
  --zip FILE             package to deploy (default: handler.zip)
  --dry-run              print every command, with values and secrets masked,
                         and run none (nothing is contacted; az, when installed,
                         only names the current subscription from its profile)
  -h, --help             this help
EOF
}

# Role definition ids of the built-in roles
# (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/web-and-mobile).
readonly SIGNALR_SERVICE_OWNER=7e4f1700-ea5a-4f59-8f37-079cfe29dce3
readonly KEY_VAULT_SECRETS_USER=4633458b-17de-408a-b874-0445c86b69e6
readonly CONN=AzureSignalRConnectionString

die() {
	printf 'deploy: %s\n' "$*" >&2
	exit 2
}

# The options, for naming the one a mistyped argument meant.
readonly OPTIONS="--name --region --resource-group --function-app --storage --sku --plan --hubs --identity --app --key-vault --upstream --zip --dry-run --help"

# unknown ARG refuses an argument, naming the option it is closest to:
# one that starts with it or it starts with (--hub, --regions), else one at
# most two edits away (--reigon); "--hubs=chat" is told to use a space.
unknown() {
	local arg=$1 option
	if [[ $arg == --*=* ]] && [[ " $OPTIONS " == *" ${arg%%=*} "* ]]; then
		die "unknown argument \"$arg\": write ${arg%%=*} ${arg#*=}, with a space (see --help)"
	fi
	if [[ $arg == --?* ]]; then
		for option in $OPTIONS; do
			if [[ $option == "$arg"* || $arg == "$option"* ]]; then
				die "unknown argument \"$arg\": did you mean $option? (see --help)"
			fi
		done
		option=$(awk -v a="$arg" -v options="$OPTIONS" 'BEGIN {
			n = split(options, opts, " ")
			best = ""; bestd = 3
			for (k = 1; k <= n; k++) {
				b = opts[k]; la = length(a); lb = length(b)
				for (j = 0; j <= lb; j++) prev[j] = j
				for (i = 1; i <= la; i++) {
					cur[0] = i
					for (j = 1; j <= lb; j++) {
						c = prev[j-1] + (substr(a, i, 1) != substr(b, j, 1))
						if (prev[j] + 1 < c) c = prev[j] + 1
						if (cur[j-1] + 1 < c) c = cur[j-1] + 1
						cur[j] = c
					}
					for (j = 0; j <= lb; j++) prev[j] = cur[j]
				}
				if (prev[lb] < bestd) { bestd = prev[lb]; best = b }
			}
			print best
		}')
		[[ -z $option ]] || die "unknown argument \"$arg\": did you mean $option? (see --help)"
	fi
	die "unknown argument \"$arg\" (see --help)"
}

name="" region="" rg="" app="" storage="" sku=Standard_S1 plan=consumption hubs=default
identity="" key_vault="" zip="" dry_run=false upstream=false
while (($#)); do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--dry-run) dry_run=true; shift; continue ;;
	--upstream) upstream=true; shift; continue ;;
	--app) [[ -z $identity || $identity == app ]] || die "--app and --identity $identity exclude each other: pick one"
		identity=app; shift; continue ;;
	--name | --region | --resource-group | --function-app | --storage | --sku | --plan | --hubs | --identity | --key-vault | --zip)
		(($# >= 2)) && [[ $2 != --* ]] || die "$1 needs a value (see --help)" ;;
	*) unknown "$1" ;;
	esac
	case $1 in
	--name) name=$2 ;;
	--region) region=$2 ;;
	--resource-group) rg=$2 ;;
	--function-app) app=$2 ;;
	--storage) storage=$2 ;;
	--sku) sku=$2 ;;
	--plan) plan=$2 ;;
	--hubs) hubs=$2 ;;
	--identity) [[ $identity != app || $2 == app ]] || die "--app and --identity $2 exclude each other: pick one"
		[[ -z $identity || $identity == "$2" ]] || die "--identity is given twice, as $identity and $2: pick one"
		identity=$2 ;;
	--key-vault) key_vault=$2 ;;
	--zip) zip=$2 ;;
	esac
	shift 2
done

# Paths given are the caller's; the rest is relative to the repository root.
if [[ -n $zip && $zip != /* ]]; then
	zip=$PWD/$zip
fi
cd "$(dirname "${BASH_SOURCE[0]}")/.."
zip=${zip:-handler.zip}
identity=${identity:-system}
[[ -n $name ]] || die "--name is required: the SignalR resource name, such as --name chat-demo"
[[ -n $region ]] || die "--region is required, such as --region westeurope (az account list-locations -o table)"
[[ $name =~ ^[a-z][a-z0-9-]{1,58}[a-z0-9]$ ]] ||
	die "invalid --name \"$name\": use 3-60 lowercase letters, digits and dashes, starting with a letter and not ending with a dash"
[[ $region =~ ^[a-z0-9]+$ ]] || die "invalid --region \"$region\": use a region name such as westeurope (az account list-locations -o table)"
case $sku in Standard_S1 | Free_F1) ;; *) die "invalid --sku \"$sku\": use Standard_S1 or Free_F1" ;; esac
case $plan in consumption | flex) ;; *) die "invalid --plan \"$plan\": use consumption or flex" ;; esac
case $identity in system | user | app) ;; *) die "invalid --identity \"$identity\": use system or user (or --app)" ;; esac
[[ -z $key_vault || $identity == app ]] || die "--key-vault holds the client secret of --app; with --identity $identity there is no secret"
[[ -n $hubs && $hubs != *[[:space:]]* ]] || die "invalid --hubs \"$hubs\": list hub names separated by commas, without spaces, such as chat,news"
rg=${rg:-$name-rg}
app=${app:-$name}
if [[ -z $storage ]]; then
	storage=${name//-/}
	storage=${storage:0:22}st
fi
[[ $storage =~ ^[a-z0-9]{3,24}$ ]] || die "invalid --storage \"$storage\": use 3-24 lowercase letters and digits"
if ! $dry_run; then
	command -v az >/dev/null || die "the Azure CLI (az) is not on PATH: install it (https://aka.ms/azure-cli), run az login, or use --dry-run"
fi
# A dry run checks the package too, so that it shows what the real run would do.
[[ -f $zip ]] || die "package \"$zip\" not found: run make package first, or name it with --zip"

# Values printed in place of a secret.
secrets=()

# word prints one argument as a shell word. In a dry run an argument holding
# "$" names a variable set by an earlier printed line, so it is left to expand.
word() {
	local a=$1
	if [[ $a =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then
		printf '%s' "$a"
	elif $dry_run && [[ $a == *'$'* ]]; then
		printf '"%s"' "${a//\"/\\\"}"
	else
		printf "'%s'" "${a//\'/\'\\\'\'}"
	fi
}

# render prints a command line with every secret masked.
render() {
	local a s out=""
	for a; do
		for s in "${secrets[@]}"; do
			a=${a//"$s"/***}
		done
		out+="${out:+ }$(word "$a")"
	done
	printf '%s' "$out"
}

# say prints what is done: the transcript itself in a dry run, a trace on
# stderr otherwise.
say() {
	if $dry_run; then
		printf '%s\n' "$1"
	else
		printf '+ %s\n' "$1" >&2
	fi
}

# run runs a command (after printing it).
run() {
	say "$(render "$@")"
	$dry_run || "$@"
}

# capture VAR CMD... sets VAR to the output of CMD. In a dry run VAR becomes
# "$VAR", which later printed commands show as is, after the printed line
# VAR=$(CMD) that would set it.
capture() {
	local var=$1 out
	shift
	say "$var=\$($(render "$@"))"
	if $dry_run; then
		printf -v "$var" '$%s' "$var"
		return
	fi
	out=$("$@")
	[[ -n $out ]] || { printf 'deploy: %s returned nothing; %s is needed\n' "$(render "$@")" "$var" >&2; exit 1; }
	printf -v "$var" '%s' "$out"
}

# secret VAR CMD... is capture for a secret: its value is masked from then on.
secret() {
	capture "$@"
	secrets+=("${!1}")
}

# ensure CHECK... -- CREATE... runs CREATE unless CHECK prints something,
# for resources whose create is not safe to repeat.
ensure() {
	local check=()
	while [[ $1 != -- ]]; do
		check+=("$1")
		shift
	done
	shift
	if $dry_run; then
		say "[ -n \"\$($(render "${check[@]}") 2>/dev/null)\" ] || $(render "$@")"
		return
	fi
	if [[ -n $("${check[@]}" 2>/dev/null || true) ]]; then
		say "exists, kept: $(render "${check[@]}")"
		return
	fi
	run "$@"
}

# grant gives PRINCIPAL (an object id) ROLE on SCOPE once.
grant() {
	local principal=$1 role=$2 scope=$3
	# Filtered here rather than with --assignee, which asks Microsoft Graph
	# and can miss an identity created seconds ago.
	ensure az role assignment list --role "$role" --scope "$scope" --query "[?principalId=='$principal'].id | [0]" -o tsv -- \
		az role assignment create --assignee-object-id "$principal" --assignee-principal-type ServicePrincipal \
		--role "$role" --scope "$scope" -o none
}

if $dry_run; then
	say "# dry run: nothing below was run"
	# The subscription the real run would use: az reads its local profile for
	# this, without a request.
	if command -v az >/dev/null && current=$(az account show --query '[name, id]' -o tsv 2>/dev/null) && [[ -n $current ]]; then
		say "# subscription: ${current//$'\n'/ }, the Azure CLI's current one (az account set --subscription <id> chooses another)"
	else
		say "# subscription: the Azure CLI's current one at run time; az is not installed or not signed in here (az login, then az account show)"
	fi
else
	# Stops here, with az's own advice, when nobody is signed in.
	capture subscription az account show --query id -o tsv
	say "# subscription: $subscription (az account set --subscription <id> chooses another)"
fi

run az group create --name "$rg" --location "$region" -o none

# A create would reset disableLocalAuth on an existing resource: create once,
# then update.
ensure az signalr show -g "$rg" -n "$name" --query id -o tsv -- \
	az signalr create -g "$rg" -n "$name" -l "$region" --sku "$sku" --unit-count 1 --service-mode Serverless -o none
# This deletes the access keys: from here on only Entra ID works.
run az signalr update -g "$rg" -n "$name" --disable-local-auth true -o none
capture signalr_id az signalr show -g "$rg" -n "$name" --query id -o tsv

ensure az storage account show -g "$rg" -n "$storage" --query id -o tsv -- \
	az storage account create -g "$rg" -n "$storage" -l "$region" --sku Standard_LRS --kind StorageV2 \
	--min-tls-version TLS1_2 --allow-blob-public-access false -o none

if [[ $plan == flex ]]; then
	plan_args=(--flexconsumption-location "$region" --runtime custom)
else
	plan_args=(--consumption-plan-location "$region" --runtime custom --os-type Linux --functions-version 4)
fi
ensure az functionapp show -g "$rg" -n "$app" --query id -o tsv -- \
	az functionapp create -g "$rg" -n "$app" --storage-account "$storage" "${plan_args[@]}" -o none

settings=("$CONN""__serviceUri=https://$name.service.signalr.net" "SIGNALR_HUBS=$hubs")
case $identity in
system)
	capture principal_id az functionapp identity assign -g "$rg" -n "$app" --query principalId -o tsv
	settings+=("$CONN""__credential=managedidentity")
	stale=("$CONN""__clientId" "$CONN""__tenantId" "$CONN""__clientSecret")
	;;
user)
	run az identity create -g "$rg" -n "$name-id" -l "$region" -o none
	capture identity_id az identity show -g "$rg" -n "$name-id" --query id -o tsv
	capture principal_id az identity show -g "$rg" -n "$name-id" --query principalId -o tsv
	capture client_id az identity show -g "$rg" -n "$name-id" --query clientId -o tsv
	run az functionapp identity assign -g "$rg" -n "$app" --identities "$identity_id" -o none
	# __clientId takes the identity's CLIENT id, not its object (principal)
	# id: both are GUIDs, and the object id fails to get a token.
	settings+=("$CONN""__credential=managedidentity" "$CONN""__clientId=$client_id")
	stale=("$CONN""__tenantId" "$CONN""__clientSecret")
	;;
app)
	registration=$app-signalr
	capture tenant_id az account show --query tenantId -o tsv
	# The vault is checked before the secret is rotated.
	[[ -z $key_vault ]] || capture vault_id az keyvault show -n "$key_vault" --query id -o tsv
	ensure az ad app list --display-name "$registration" --query '[0].appId' -o tsv -- \
		az ad app create --display-name "$registration" --sign-in-audience AzureADMyOrg -o none
	capture client_id az ad app list --display-name "$registration" --query '[0].appId' -o tsv
	ensure az ad sp show --id "$client_id" --query id -o tsv -- az ad sp create --id "$client_id" -o none
	capture principal_id az ad sp show --id "$client_id" --query id -o tsv
	# --append adds a secret and keeps the registration's others, which may
	# be in use elsewhere; old ones expire after their year, or delete them.
	say "# --append: the existing secrets of $registration are kept (az ad app credential list --id <client id>; az ad app credential delete removes old ones)"
	secret client_secret az ad app credential reset --id "$client_id" --append --display-name "$app" --years 1 --query password -o tsv
	secret_value=$client_secret
	if [[ -n $key_vault ]]; then
		kv_secret=$app-signalr-client-secret
		# From a file, so the secret does not show in the process list.
		say 'secret_file=$(mktemp) && printf %s "$client_secret" >"$secret_file"'
		if $dry_run; then
			secret_file='$secret_file'
		else
			secret_file=$(mktemp)
			trap 'rm -f "$secret_file"' EXIT
			printf '%s' "$client_secret" >"$secret_file"
		fi
		run az keyvault secret set --vault-name "$key_vault" --name "$kv_secret" --file "$secret_file" --encoding utf-8 -o none
		say 'rm -f "$secret_file"'
		$dry_run || rm -f "$secret_file"
		# The platform resolves the reference with the app's system identity.
		capture app_principal_id az functionapp identity assign -g "$rg" -n "$app" --query principalId -o tsv
		grant "$app_principal_id" "$KEY_VAULT_SECRETS_USER" "$vault_id"
		secret_value="@Microsoft.KeyVault(VaultName=$key_vault;SecretName=$kv_secret)"
	fi
	settings+=("$CONN""__tenantId=$tenant_id" "$CONN""__clientId=$client_id" "$CONN""__clientSecret=$secret_value")
	stale=("$CONN""__credential")
	;;
esac

grant "$principal_id" "$SIGNALR_SERVICE_OWNER" "$signalr_id"

if $upstream; then
	# The service's own identity gets a token for this app registration and
	# sends it with every upstream request; the handler accepts no other.
	upstream_registration=$app-upstream
	[[ $identity == app ]] || capture tenant_id az account show --query tenantId -o tsv
	ensure az ad app list --display-name "$upstream_registration" --query '[0].appId' -o tsv -- \
		az ad app create --display-name "$upstream_registration" --sign-in-audience AzureADMyOrg -o none
	capture audience az ad app list --display-name "$upstream_registration" --query '[0].appId' -o tsv
	# Entra ID issues tokens only for an app with a service principal here.
	ensure az ad sp show --id "$audience" --query id -o tsv -- az ad sp create --id "$audience" -o none
	capture signalr_principal_id az signalr identity assign -g "$rg" -n "$name" --identity '[system]' --query identity.principalId -o tsv
	capture app_host az functionapp show -g "$rg" -n "$app" --query defaultHostName -o tsv
	run az signalr upstream update -g "$rg" -n "$name" \
		--template "url-template=https://$app_host/api/upstream/{hub}/{category}/{event}" "hub-pattern=$hubs" "category-pattern=*" "event-pattern=*" -o none
	# az signalr upstream update has no auth keys: add auth to the rule it wrote.
	run az resource update --ids "$signalr_id" \
		--set "properties.upstream.templates[0].auth={\"type\":\"ManagedIdentity\",\"managedIdentity\":{\"resource\":\"$audience\"}}" -o none
	settings+=("SIGNALR_UPSTREAM_AUDIENCE=$audience" "SIGNALR_UPSTREAM_TENANT=$tenant_id" "SIGNALR_UPSTREAM_IDENTITY=$signalr_principal_id")
fi

# -o none: the reply lists every setting with its value, secrets included.
run az functionapp config appsettings set -g "$rg" -n "$app" --settings "${settings[@]}" -o none
# Keys of another identity variant left by an earlier run would change how
# the handler authenticates.
run az functionapp config appsettings delete -g "$rg" -n "$app" --setting-names "${stale[@]}" -o none

run az functionapp deployment source config-zip -g "$rg" -n "$app" --src "$zip" -o none

$dry_run && exit 0
cat >&2 <<EOF

deploy: $app is deployed; negotiate at https://$app.azurewebsites.net/api/negotiate${upstream_registration:+
  Upstream: the service posts client invocations and connection events to
  https://$app_host/api/upstream/..., signed with a token for $audience.}
  The role assignment can take up to 30 minutes to apply: until then the
  service answers 401/403. Verify with docs/DEPLOY.md, "Verify".
  Tear down: az group delete --name $rg${registration:+
             az ad app delete --id \$(az ad app list --display-name $registration --query '[0].appId' -o tsv)}
EOF
