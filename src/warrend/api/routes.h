/* Every front end's route tables, for main.c to register. */
#pragma once
#include "http.h"
#include "v1-routes.h"

extern const struct http_route compat_routes[];   /* compat.c: /create_session, /execute … */
extern const struct http_route admin_routes[];    /* admin.c: /v1/health, /metrics, /v1/openapi.json, /health */
extern const struct http_route image_routes[];    /* images.c: /v1/images */
extern const struct http_route mcp_routes[];      /* mcp.c: /mcp (MCP, Streamable HTTP) */
