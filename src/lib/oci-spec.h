/* The warren policy as an OCI runtime-spec config.json (owned by the oci backend). */
#pragma once
