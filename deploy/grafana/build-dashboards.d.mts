/** The dashboards build-dashboards.mjs writes (Grafana dashboard JSON models). */
export declare const dashboards: {
  uid: string;
  title: string;
  panels: { title: string; targets: { expr: string; legendFormat: string; refId: string }[] }[];
}[];
