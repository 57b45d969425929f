"""REST routes (partner and staff) and OpenAPI serving; they translate HTTP only."""
