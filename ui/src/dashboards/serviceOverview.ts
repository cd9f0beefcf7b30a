// The generated Service Overview dashboards are named after their service.

/** The uid Lantern gives a service's generated overview dashboard. */
export function dashboardUidForService(service: string): string {
  return `service-overview-${service.replace(/[^a-zA-Z0-9_-]/g, "-")}`;
}
