# Helpers shared by the default policies.
package mlspec.lib

import rego.v1

# Environments held to production rules. Override with --data, e.g. a settings.yaml of
#   settings: {productionEnvironments: [prod, prod-us]}
default production_environments := ["prod", "production"]

production_environments := data.settings.productionEnvironments

production if input.environment.name in production_environments
