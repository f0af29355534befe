export { escapeHtml } from './html.ts'
export { portalNetworkOf } from './portal-network.ts'
export {
  PORTAL_PATHS,
  type PortalNetwork,
  type PortalOptions,
  portalRoutes,
} from './portal-routes.ts'
